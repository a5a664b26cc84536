"""/comptes/: the second factor, invitations, password reset, one's own security page."""

from django.contrib import admin
from django.urls import path

from portal.accounts import views

app_name = "accounts"
staff = admin.site.admin_view  # signed in with both factors (or none owed)

urlpatterns = [
    path("second-facteur/", views.second_factor, name="second_factor"),
    path("activation/", views.enrol, name="enrol"),
    path("codes-de-secours/", views.recovery_codes, name="recovery_codes"),
    path("securite/", staff(views.security), name="security"),
    path("securite/sessions/<int:pk>/fermer/", staff(views.close_session), name="close_session"),
    path("securite/navigateurs/oublier/", staff(views.forget_browsers), name="forget_browsers"),
    path("securite/codes-de-secours/", staff(views.new_recovery_codes), name="new_recovery_codes"),
    path("invitation/<str:uidb64>/<str:token>/", views.invitation, name="invitation"),
    path("mot-de-passe/envoye/", views.ResetDoneView.as_view(), name="reset_done"),
    path("mot-de-passe/<str:uidb64>/<str:token>/", views.ResetConfirmView.as_view(), name="reset_confirm"),
    path("mot-de-passe/termine/", views.ResetCompleteView.as_view(), name="reset_complete"),
]
