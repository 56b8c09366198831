"""Top-level URLs: the web form (also at the old Flask app's addresses), the CSV upload and job
pages, the API, probes, admin."""

from django.contrib import admin
from django.urls import include, path

from predictor import views

urlpatterns = [
    path("", views.predict_page, name="home"),
    path("index", views.predict_page, name="index"),
    path("predict", views.predict_page, name="predict"),
    path("upload/", views.upload_page, name="upload"),
    path("jobs/<int:pk>/", views.job_page, name="job"),
    path("jobs/<int:pk>/retry/", views.job_retry_page, name="job-retry"),
    path("readyz", views.readyz, name="readyz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("api/", include(("predictor.api.urls", "api"))),
    path("admin/", admin.site.urls),
]

handler400 = "predictor.views.bad_request"
handler404 = "predictor.views.not_found"
