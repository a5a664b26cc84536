from django.urls import path

from rooms import views

app_name = "rooms"
urlpatterns = [
    path("<str:slug>/", views.join, name="join"),
    path("<str:slug>/agent/", views.agent_room, name="agent_room"),
    path("<str:slug>/room/", views.room_page, name="room"),
    path("<str:slug>/device-check/", views.device_check, name="device_check"),
]
