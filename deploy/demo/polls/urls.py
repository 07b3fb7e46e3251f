from django.urls import path

from . import views

urlpatterns = [
    path("2xx_success/", views.success),
    path("4xx_not_found/", views.not_found),
    path("5xx_exception/", views.exception),
    path("dependency/", views.dependency),
]
