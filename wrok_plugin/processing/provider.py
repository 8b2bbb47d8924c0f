"""The 'wrok' Processing provider."""

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from ..plugin_files import icon_path
from .aws_algorithm import SubmitAwsAlgorithm
from .classify_algorithm import ClassifyRasterAlgorithm
from .clustering_algorithm import TunedClusteringAlgorithm
from .pps_algorithm import PpsSampleAlgorithm
from .raster_algorithm import ClusterRasterAlgorithm


class WrokProvider(QgsProcessingProvider):
    def id(self):
        return "wrok"

    def name(self):
        return "wrok"

    def longName(self):
        return "wrok: tuned weight/radius clustering"

    def icon(self):
        return QIcon(icon_path())

    def svgIconPath(self):
        return icon_path()

    def loadAlgorithms(self):
        self.addAlgorithm(TunedClusteringAlgorithm())
        self.addAlgorithm(SubmitAwsAlgorithm())
        self.addAlgorithm(ClusterRasterAlgorithm())
        self.addAlgorithm(ClassifyRasterAlgorithm())
        self.addAlgorithm(PpsSampleAlgorithm())
