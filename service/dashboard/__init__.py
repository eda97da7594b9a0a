"""The webmaster's dashboard: server-rendered pages, signed sessions, share links, SVG charts, CSV."""
