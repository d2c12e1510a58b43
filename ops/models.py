from django.db import models


class WorkerHeartbeat(models.Model):
    """When each task worker (`manage.py worker`, one row per host and process) was last alive."""

    worker = models.CharField(max_length=100, unique=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.worker} at {self.beat_at:%Y-%m-%d %H:%M:%S}"
