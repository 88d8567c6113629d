"""The province's unified authentication host: ticket-based SSO in the manner of 浙江's.

``/sso/login?service=URL`` shows the password form, or — when the visitor already holds the auth
host's session — returns at once to ``service`` with a one-time ``ticket`` that the service
validates server-side (:meth:`Runtime.validate_ticket`).
"""

from __future__ import annotations

import random
import secrets
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aiohttp import web
from aiohttp.typedefs import Handler

from sandbox.web import captcha
from sandbox.web.kit import Runtime, esc, page


def with_ticket(service: str, ticket: str) -> str:
    parts = urlsplit(service)
    query = [*parse_qsl(parts.query), ("ticket", ticket)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def build(rt: Runtime) -> web.Application:
    plan = rt.plan
    cookie = f"{plan.prefix}_auth_tgc"
    rnd = random.Random(plan.id)

    @web.middleware
    async def transport_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.secure and plan.auth.hsts:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    def form(service: str, error: str = "") -> web.Response:
        action = (
            rt.url("auth_http", "/sso/authenticate") if plan.auth.form_posts_http else "/sso/authenticate"
        )
        script = (
            f'<script src="{rt.url("portal_http", "/static/stat.js")}"></script>'
            if plan.auth.mixed_content
            else '<script src="/static/login.js"></script>'
        )
        captcha_row = ""
        if plan.auth.captcha:
            cid = secrets.token_hex(8)
            rt.captchas[cid] = captcha.new_challenge(Path(rt.captcha_dir), cid, rnd)
            captcha_row = (
                '<div class="row"><label for="vcode">验证码</label>'
                '<input id="vcode" name="vcode" type="text" autocomplete="off" maxlength="4">'
                f'<img id="vimg" src="/sso/captcha/{cid}.png" alt="验证码" title="看不清？刷新页面换一张">'
                f'<input type="hidden" name="cid" value="{cid}"></div>'
            )
        err = f'<p class="err" role="alert">{esc(error)}</p>' if error else ""
        body = (
            f'<div class="hd">{esc(plan.province)}统一身份认证平台</div>'
            '<div class="login-box"><h2>个人用户登录</h2>'
            f'{err}<form method="post" action="{esc(action)}" id="loginForm">'
            f'<input type="hidden" name="service" value="{esc(service)}">'
            '<div class="row"><label for="username">用户名/手机号/身份证号</label>'
            '<input id="username" name="username" type="text" autocomplete="username"></div>'
            '<div class="row"><label for="password">密码</label>'
            '<input id="password" name="password" type="password" autocomplete="current-password"></div>'
            f'{captcha_row}<button type="submit">登录</button></form>'
            '<p><a href="/sso/register">注册</a> | <a href="/sso/forgot">忘记密码</a></p></div>'
        )
        return page(body, title=f"{plan.province}统一身份认证 - 登录", head=script)

    async def login(request: web.Request) -> web.StreamResponse:
        service = request.query.get("service", rt.url("portal", "/"))
        user = rt.auth_sessions.get(request.cookies.get(cookie, ""))
        if user:
            raise web.HTTPFound(with_ticket(service, rt.issue_ticket(user)))
        return form(service)

    async def authenticate(request: web.Request) -> web.StreamResponse:
        data = await request.post()
        service = str(data.get("service") or rt.url("portal", "/"))
        if plan.auth.captcha:
            answer = rt.captchas.pop(str(data.get("cid", "")), None)
            if answer is None or str(data.get("vcode", "")).strip() != answer:
                return form(service, "验证码错误，请重新输入")
        acct = plan.account
        if data.get("username") not in {acct.username, acct.phone} or data.get("password") != acct.password:
            return form(service, "用户名或密码错误")
        sid = secrets.token_urlsafe(18)
        rt.auth_sessions[sid] = acct.username
        response = web.HTTPFound(with_ticket(service, rt.issue_ticket(acct.username)))
        response.set_cookie(cookie, sid, path="/", httponly=True)
        raise response

    async def captcha_png(request: web.Request) -> web.Response:
        cid = request.match_info["cid"]
        answer = rt.captchas.get(cid)
        if answer is None:
            raise web.HTTPNotFound()
        body = captcha.render(answer, seed=int(cid, 16))
        return web.Response(body=body, content_type="image/png", headers={"Cache-Control": "no-store"})

    async def logout(request: web.Request) -> web.StreamResponse:
        rt.auth_sessions.pop(request.cookies.get(cookie, ""), None)
        response = web.HTTPFound(request.query.get("service", rt.url("portal", "/")))
        response.del_cookie(cookie, path="/")
        raise response

    async def static_js(request: web.Request) -> web.Response:
        return web.Response(text="/* login page helpers */\n", content_type="application/javascript")

    async def elsewhere(request: web.Request) -> web.Response:
        return page('<p>请使用统一身份认证登录。<a href="/sso/login">返回登录</a></p>', title="统一身份认证")

    app = web.Application(middlewares=[transport_headers])
    app.router.add_get("/sso/login", login)
    app.router.add_post("/sso/authenticate", authenticate)
    app.router.add_get("/sso/captcha/{cid:[0-9a-f]+}.png", captcha_png)
    app.router.add_get("/sso/logout", logout)
    app.router.add_get("/static/login.js", static_js)
    app.router.add_get("/sso/register", elsewhere)
    app.router.add_get("/sso/forgot", elsewhere)
    app.router.add_get("/", elsewhere)
    return app
