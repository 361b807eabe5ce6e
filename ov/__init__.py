"""Oficina Virtual: the customer self-service portal of a natural-gas distributor."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, has_request_context, request, url_for
from markupsafe import escape

from ov import config as settings
from ov.addresses import ClientAddress, parse_proxy_addresses
from ov.extensions import csrf, db, limiter, mail, migrate

PACKAGE_DIR = Path(__file__).resolve().parent


class Portal(Flask):
    """Flask, with its redirects' small page (shown if a browser does not follow) in Spanish,
    and its answer to "is this hook a coroutine?" remembered."""

    _ov_sync: dict | None = None

    def ensure_sync(self, func):
        """Flask's, answered from a table for the functions registered on the app (hooks,
        views, context processors: about 25 asked for on every page, each inspected again
        every time). Anything else (an ``after_this_request`` closure, a function registered
        after the table was made) is asked about as Flask does."""
        flasks = super().ensure_sync
        known = self._ov_sync
        if known is None:
            known = self._ov_sync = {f: flasks(f) for f in self._registered()}
        try:
            found = known.get(func)
        except TypeError:  # an unhashable callable
            found = None
        return found if found is not None else flasks(func)

    def _registered(self):
        for registry in (self.before_request_funcs, self.after_request_funcs,
                         self.teardown_request_funcs, self.template_context_processors,
                         self.url_value_preprocessors, self.url_default_functions):
            for functions in registry.values():
                yield from functions
        yield from self.teardown_appcontext_funcs
        yield from self.view_functions.values()

    def redirect(self, location: str, code: int = 302):  # type: ignore[override]
        response = super().redirect(location, code)
        target = escape(location)
        response.set_data(
            '<!doctype html>\n<html lang="es-MX">\n<title>Redirigiendo</title>\n'
            f'<p>Continúa en <a href="{target}">{target}</a>.</p>\n'
        )
        return response


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: defaults, then instance/config.py, then OV_* variables, then tests'."""
    instance_path = os.environ.get("OV_INSTANCE_PATH") or None
    if test_config and test_config.get("INSTANCE_PATH"):
        instance_path = test_config["INSTANCE_PATH"]
    app = Portal(
        __name__, instance_path=instance_path, instance_relative_config=True, static_folder=None
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    load_config(app, test_config)
    from ov import observability

    observability.init_app(app)  # first: its hooks see every request, and its last hook runs last
    register_extensions(app)
    register_blueprints(app)
    register_template_helpers(app)
    register_response_hooks(app)
    register_errorhandlers(app)
    register_commands(app)
    from ov.services.profile import warm_up_browser_parser

    warm_up_browser_parser()  # here, not in the first customer's sign-in
    from ov import overload

    # The bounded queue, just inside the client-address check (which says whether the
    # request came through a proxy, whose stamp it reads): a refusal costs nothing else.
    overload.install(app)
    # Every request's client address is checked, with or without proxies (ov/addresses.py).
    proxies, unix_peer = parse_proxy_addresses(app.config["OV_PROXY_ADDRESSES"])
    app.wsgi_app = ClientAddress(  # type: ignore[method-assign]
        app.wsgi_app, hops=app.config["OV_TRUSTED_PROXIES"], proxies=proxies, unix=unix_peer
    )
    return app


def load_config(app: Flask, test_config: dict | None) -> None:
    app.config.update(settings.defaults(app.instance_path))
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(settings.from_environment(os.environ))
    if test_config:
        app.config.update(test_config)
    settings.validate(app.config, app.instance_path)
    app.config["SECRET_KEY"] = settings.secret_key_for(app.config, app.instance_path)
    production = app.config["OV_ENV"] == "production"
    if production:
        app.config.update(
            SESSION_COOKIE_SECURE=True,
            SESSION_COOKIE_NAME="__Host-ov",
            PREFERRED_URL_SCHEME="https",
        )
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    engine_options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    if uri.startswith("sqlite"):
        connect_args = dict(engine_options.get("connect_args", {}))
        connect_args.setdefault("timeout", app.config["OV_SQLITE_BUSY_TIMEOUT_MS"] / 1000)
        engine_options["connect_args"] = connect_args
    else:
        engine_options.setdefault("pool_pre_ping", True)
    # A database error's message never carries the statement's values (names, addresses,
    # hashes): the logs keep the statement and the error only.
    engine_options.setdefault("hide_parameters", True)
    if not uri.startswith("sqlite"):
        connect_args = dict(engine_options.get("connect_args", {}))
        connect_args.setdefault("connect_timeout", app.config["OV_DATABASE_CONNECT_TIMEOUT"])
        engine_options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options
    if app.config["OV_REDIS_URL"] and app.config["RATELIMIT_STORAGE_URI"] == "memory://":
        app.config["RATELIMIT_STORAGE_URI"] = app.config["OV_REDIS_URL"]
    if app.config["RATELIMIT_STORAGE_URI"].startswith("redis"):
        # Redis down: the limits count in this process's memory until it is back.
        timeout = app.config["OV_REDIS_TIMEOUT"]
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {
            "socket_connect_timeout": timeout, "socket_timeout": timeout})
        app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config["MAIL_BACKEND"] = app.config["OV_MAIL_BACKEND"]


def register_extensions(app: Flask) -> None:
    from ov import uploads
    from ov.errors import refuse_undecodable_query
    from ov.outages import refuse_unreadable_session

    app.before_request(refuse_undecodable_query)  # first: every other hook reads the URL
    app.before_request(refuse_unreadable_session)  # before CSRF, which reads the session
    uploads.init_app(app)  # before CSRF, which is the first to read a form
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PACKAGE_DIR / "migrations"))
    csrf.init_app(app)
    mail.init_app(app)
    limiter.init_app(app)
    from ov import models  # noqa: F401  (registers the tables on db.metadata)
    from ov.auth_helpers import init_app as init_signed_in_sessions
    from ov.sessions import init_app as init_server_sessions

    init_server_sessions(app)
    init_signed_in_sessions(app)  # after csrf: an expired session is judged once CSRF passed


def register_blueprints(app: Flask) -> None:
    from ov import static_files
    from ov.blueprints import account, auth, help, office, ops, registration

    static_files.init_app(app)
    for blueprint in (help.bp, ops.bp, account.bp, auth.bp, registration.bp, office.bp):
        app.register_blueprint(blueprint)


def register_template_helpers(app: Flask) -> None:
    from ov import formatting

    formatting.init_app(app)
    links: dict[tuple[str, str], str] = {}

    def url_for_in_templates(endpoint: str, **values) -> str:
        """Flask's ``url_for``, with the links that take no value (the menus and footers
        every page draws: a hundred of the templates' calls) built once per endpoint."""
        if values or endpoint.startswith(".") or not has_request_context():
            return url_for(endpoint, **values)
        key = (request.script_root, endpoint)
        found = links.get(key)
        if found is None:
            found = links[key] = url_for(endpoint)
        return found

    app.jinja_env.globals["url_for"] = url_for_in_templates

    @app.template_global()
    def form_aria(attrs: dict, described_by: str, error: str | None) -> dict:
        """An input's attributes plus what ties it to its hint and its error message."""
        merged = dict(attrs)
        if described_by:
            merged["aria-describedby"] = described_by
        if error:
            merged["aria-invalid"] = "true"
        return merged


def register_response_hooks(app: Flask) -> None:
    from ov import compression, security

    # Flask runs after-request hooks in reverse order: compression, registered first, runs last.
    compression.init_app(app)
    security.init_app(app)


def register_errorhandlers(app: Flask) -> None:
    from ov import errors

    errors.init_app(app)


def register_commands(app: Flask) -> None:
    from ov import cli

    cli.init_app(app)
