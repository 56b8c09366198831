"""The task queue's entry points (django-tasks): thin, the work is in predictor.jobs."""

from django_tasks import task

from predictor import jobs


@task()
def job_run(job_id: int) -> None:
    """Run background job `job_id` (a training or a CSV file) to its end."""
    jobs.job_execute(job_id=job_id)
