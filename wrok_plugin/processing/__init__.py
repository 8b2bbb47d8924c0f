"""The Processing provider and its algorithms (toolbox, modeler, qgis_process)."""
