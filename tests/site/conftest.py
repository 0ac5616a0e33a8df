"""The bundled site's app is imported from its folder, as web_server.toml's pythonpath says."""

import sys
from pathlib import Path

APP_FOLDER = Path(__file__).resolve().parents[2] / "dynamic"
if str(APP_FOLDER) not in sys.path:
    sys.path.insert(0, str(APP_FOLDER))
