from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog

from notifications import shortlinks
from portal import citizen, citizendata_views, day, devicetest, jscatalog, legal, probes, summary
from portal.accounts import views as accounts
from portal.stats import views as statistics_views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("jsi18n/<str:language>/<str:digest>.js", jscatalog.catalog, name="javascript-catalog-static"),
    path("admin/day/", admin.site.admin_view(day.day_page), name="day"),
    path("admin/day/<int:pk>/row/", admin.site.admin_view(day.day_row), name="day_row"),
    path("admin/day/<int:pk>/admit/", admin.site.admin_view(day.day_admit), name="day_admit"),
    path("admin/day/<int:pk>/unlock/", admin.site.admin_view(day.day_unlock), name="day_unlock"),
    path("admin/day/<int:pk>/reopen/", admin.site.admin_view(day.day_reopen), name="day_reopen"),
    # Sign-in in two steps (password, then second factor) instead of the admin's own view.
    path("admin/login/", accounts.login, name="login"),
    # The name the admin's login template links to ("Forgotten your login credentials?").
    path("comptes/mot-de-passe/", accounts.ResetView.as_view(), name="admin_password_reset"),
    path("comptes/", include("portal.accounts.urls")),
    path("admin/citizen-data/", admin.site.admin_view(citizendata_views.page), name="citizen_data"),
    path("admin/statistics/", admin.site.admin_view(statistics_views.page), name="statistics"),
    path("admin/", admin.site.urls),
    path("r/", include("rooms.urls")),
    path("rdv/<str:token>/", citizen.manage, name="manage_appointment"),
    path("rdv/<str:token>/test/", devicetest.page, name="device_test"),
    path("rdv/<str:token>/compte-rendu/", summary.page, name="visit_summary"),
    path("rdv/<str:token>/compte-rendu.pdf", summary.pdf, name="visit_summary_pdf"),
    path("compte-rendu/<int:pk>/envoyer/", summary.send, name="send_summary"),  # the agent's button
    path("rdv/<str:token>/test/offer/", devicetest.offer, name="device_test_offer"),
    path("notifications/", include("notifications.urls")),
    path("accessibilite/", legal.accessibility, name="accessibility"),
    path("donnees-personnelles/", legal.privacy, name="privacy"),
    path("phone/", include("rooms.phone.urls")),  # Twilio's voice webhooks
    path("j/<str:code>", shortlinks.follow, name="short_link"),  # short links in SMS
]
