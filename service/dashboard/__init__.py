"""The webmaster's dashboard: server-rendered pages, signed sessions, share links, SVG charts, CSV.

middleware.py reads who is asking and hardens every answer; signin.py signs in and out (and
opens share links); screens.py draws the operator's table and a site's screen; downloads.py
answers the CSV files; credentials.py is the operator's Tokens screen. Who may see what is decided in service/access.py.
"""

from flask import Blueprint

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard", static_folder="../static/dashboard",
               static_url_path="/static")

from . import credentials, downloads, middleware, screens, signin  # noqa: E402,F401  (each adds its routes to bp)
