"""The web pages the daemon serves: server-rendered HTML, one stylesheet, no script.

Routes (with their roles) are in ``routes.py``; every text shown is escaped by construction
(``layout.py``); UI strings are in ``i18n.py`` (zh and en); charts are inline SVG
(``charts.py``). Access control is monitor/auth.py, enforced by ``Api.dispatch``.
"""
