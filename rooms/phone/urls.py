from django.urls import path

from rooms.phone import views

app_name = "phone"
urlpatterns = [
    path("voice/", views.voice, name="voice"),
    path("voice/code/", views.code, name="code"),
    path("status/", views.status, name="status"),
]
