"""The WSGI entry for production: ``gunicorn 'webapp.wsgi:app'`` (settings from EOMS_* variables); run
``eoms worker`` as its own process beside it."""

from webapp.factory import create_app

app = create_app()
