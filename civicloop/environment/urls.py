from __future__ import annotations

from django.urls import path

from civicloop.environment import views

app_name = "environment"

urlpatterns = [
    path("", views.enterprises, name="enterprises"),
    path("alerts/", views.alerts, name="alerts"),
    path("e/<str:uscc>/", views.enterprise, name="enterprise"),
    path("e/<str:uscc>/labels.pdf", views.labels, name="labels"),
    path("e/<str:uscc>/report/", views.report, name="report"),
    path("e/<str:uscc>/report.<str:fmt>", views.report_export, name="report-export"),
    path("o/<int:outlet_id>/", views.outlet, name="outlet"),
    path("o/<int:outlet_id>/qr.svg", views.outlet_qr, name="outlet-qr"),
    path("q/<str:token>/", views.scan, name="scan"),
    path("permits/<int:permit_id>/copy/", views.permit_copy, name="permit-copy"),
    path("stations/", views.stations_page, name="stations"),
    path("stations/<str:mn>/", views.station, name="station"),
]
