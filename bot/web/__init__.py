"""The web portal for CSO and brand staff (docs/portal.md): server-rendered Starlette + Jinja2.

`create_web_app(app)` in bot/web/app.py builds it; `wagecheck run web` serves it.
"""
