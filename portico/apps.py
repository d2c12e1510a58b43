from django.contrib.admin.apps import AdminConfig


class OperatorAdminConfig(AdminConfig):
    """django.contrib.admin with portico.admin.OperatorAdminSite as `admin.site`."""

    default_site = "portico.admin.OperatorAdminSite"
