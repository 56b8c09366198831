"""URLs under /api/."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from predictor.api import views

urlpatterns = [
    path("predictions/", views.PredictionListCreateView.as_view(), name="prediction-list"),
    path("predictions/batch/", views.PredictionBatchView.as_view(), name="prediction-batch"),
    path("predictions/csv/", views.PredictionCsvView.as_view(), name="prediction-csv"),
    path("predictions/<int:pk>/", views.PredictionDetailView.as_view(), name="prediction-detail"),
    path(
        "predictions/<int:pk>/explanation/",
        views.PredictionExplanationView.as_view(),
        name="prediction-explanation",
    ),
    path("models/", views.ModelVersionListView.as_view(), name="modelversion-list"),
    path("models/active/", views.ActiveModelVersionView.as_view(), name="modelversion-active"),
    path("jobs/", views.JobListView.as_view(), name="job-list"),
    path("jobs/<int:pk>/", views.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<int:pk>/retry/", views.JobRetryView.as_view(), name="job-retry"),
    path("jobs/<int:pk>/download/", views.JobDownloadView.as_view(), name="job-download"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The page and its start-up script as two responses: no inline script, so the site's
    # Content-Security-Policy needs no exception for Swagger UI.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]
