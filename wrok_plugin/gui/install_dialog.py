"""The dialog that gets the engine's packages installed: apt first on Debian/Ubuntu, else pip into the profile."""

from __future__ import annotations

from qgis.core import QgsApplication, QgsTask
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from ..dependencies import (
    WORKING_VERSIONS,
    add_packages_folder,
    apt_command,
    debian_packages,
    pip_install,
    profile_packages_folder,
    system_python_is_managed,
)


class InstallDialog(QDialog):
    """Names what is missing, shows the system's own way to install it, and runs pip on request with its log."""

    finished_install = pyqtSignal(bool)  # emitted once pip has finished (tests wait on it)

    def __init__(self, missing, folder=None, parent=None):
        super().__init__(parent)
        self.missing = list(missing)
        self.folder = folder or profile_packages_folder(QgsApplication.qgisSettingsDirPath())
        self.task = None
        self.succeeded = None
        self.setWindowTitle("wrok: install Python packages")
        self.resize(640, 420)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"wrok needs {', '.join(self.missing)} in the Python that QGIS runs.\n"
                                f"Working versions: {WORKING_VERSIONS}."))
        self.apt_line = None
        if system_python_is_managed() and debian_packages(self.missing):
            layout.addWidget(QLabel("This system's Python is managed by Debian/Ubuntu. Best: install the "
                                    "packages with apt in a terminal, then restart QGIS:"))
            row = QHBoxLayout()
            self.apt_line = QLineEdit(apt_command(self.missing))
            self.apt_line.setReadOnly(True)
            copy = QPushButton("Copy")
            copy.clicked.connect(lambda: QApplication.clipboard().setText(self.apt_line.text()))
            row.addWidget(self.apt_line)
            row.addWidget(copy)
            layout.addLayout(row)
            pip_text = "Or install them with pip into your QGIS profile (numpy and QGIS's packages stay as they are):"
        else:
            pip_text = "Install them with pip into your QGIS profile (numpy and QGIS's packages stay as they are):"
        layout.addWidget(QLabel(f"{pip_text}\n{self.folder}"))
        self.pip_button = QPushButton(f"Install {' '.join(self.missing)} with pip")
        self.pip_button.clicked.connect(self.start_install)
        layout.addWidget(self.pip_button)
        self.status = QLabel("")
        layout.addWidget(self.status)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        layout.addWidget(self.log)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def start_install(self):
        self.pip_button.setEnabled(False)
        self.status.setText(f"Installing {', '.join(self.missing)} (this can take a few minutes)…")
        self.log.setPlainText("")
        folder, missing = self.folder, self.missing
        self.task = QgsTask.fromFunction(f"wrok: installing {', '.join(missing)}",
                                         lambda _task: pip_install(missing, folder), on_finished=self.show_result)
        QgsApplication.taskManager().addTask(self.task)

    def show_result(self, exception, outcome=None):
        ok, log = outcome if outcome else (False, repr(exception))
        self.task = None
        self.succeeded = ok
        self.log.setPlainText(log)
        if ok:
            add_packages_folder(self.folder)
            self.status.setText("Installed. Restart QGIS to use wrok.")
        else:
            self.status.setText("pip did not succeed: the log below says why.")
            self.pip_button.setEnabled(True)
        self.finished_install.emit(ok)
