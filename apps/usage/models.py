from django.db import models


class ApiUsageDay(models.Model):
    """A tenant's API calls on one day (in its time zone), by endpoint class and refusals.

    Redis counts as requests arrive; a periodic task copies the counters here so that the figures
    outlive Redis and months can be summed. Readers take the larger of the two for each counter.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="api_usage")
    day = models.DateField()
    # {"all": n, "general": n, "search": n, "upload": n, "rejected:<class>": n}
    counts = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["tenant", "day"], name="one_usage_row_per_tenant_day")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day}: {self.counts.get('all', 0)} calls"
