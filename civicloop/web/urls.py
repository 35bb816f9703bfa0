from __future__ import annotations

from django.urls import path

from civicloop.web.views import account, cases, dashboard, desks, inbox, maps, report

app_name = "web"

urlpatterns = [
    path("", account.home, name="home"),
    path("login/", account.LoginView.as_view(), name="login"),
    path("logout/", account.LogoutView.as_view(), name="logout"),
    path("report/", report.report, name="report"),
    path("report/place/", report.place, name="place"),
    path("report/similar/", report.similar, name="similar"),
    path("mine/", report.mine, name="mine"),
    path("cases/<str:number>/", cases.case_detail, name="case"),
    path("cases/<str:number>/panel/", cases.case_panel, name="case-panel"),
    path("cases/<str:number>/do/<str:name>/", cases.case_act, name="case-act"),
    path("cases/<str:number>/note/", cases.case_note, name="case-note"),
    path("cases/<str:number>/follow/", report.follow, name="follow"),
    path("cases/<str:number>/photos/<int:photo_id>/", cases.photo, name="photo"),
    path("grid/", desks.grid, name="grid"),
    path("grid/on-spot/", desks.on_spot, name="on-spot"),
    path("centre/", desks.centre, name="centre"),
    path("centre/supervision/", desks.supervision, name="supervision"),
    path("centre/map/", desks.centre_map, name="centre-map"),
    path("unit/", desks.unit, name="unit"),
    path("dashboard/", dashboard.board, name="dashboard"),
    path("dashboard/cases/", dashboard.cases, name="dashboard-cases"),
    path("dashboard/export/", dashboard.export, name="dashboard-export"),
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/count/", inbox.count, name="inbox-count"),
    path("inbox/read-all/", inbox.read_all, name="inbox-read-all"),
    path("inbox/<int:pk>/read/", inbox.read, name="inbox-read"),
    path("map/regions/<str:code>/<str:level>.geojson", maps.regions, name="map-regions"),
]
