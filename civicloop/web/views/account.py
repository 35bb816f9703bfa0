"""Sign in and out, and the home page listing the user's workspaces."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django_htmx.http import HttpResponseClientRedirect

from civicloop.web import access
from civicloop.web.forms import MobileLoginForm
from civicloop.web.selectors import my_reports
from civicloop.web.views.common import htmx_page, is_htmx, user_of


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    authentication_form = MobileLoginForm
    redirect_authenticated_user = True

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # An expired session under htmx: load the login page as a page, not into a panel,
        # and come back to the page the user was on.
        if is_htmx(request) and not request.user.is_authenticated:
            back = htmx_page(request) or "/"
            return HttpResponseClientRedirect(f"{reverse('web:login')}?{urlencode({'next': back})}")
        return super().get(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    next_page = "web:login"


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    context = {
        "workspaces": access.workspaces_for(user),
        "recent": my_reports(user)[:3],
    }
    return render(request, "web/home.html", context)
