"""gunicorn reads this file when started in the project folder: plain `gunicorn 'service:create_app()'`
then runs with the same settings as `visitor-analytics serve`, the image and the tests."""

from service.ops.gunicorn_config import *  # noqa: F401,F403  (the one configuration, kept in the package)
