"""Errors of the local cloud itself (not of the functions it runs)."""


class LocalCloudError(Exception):
    """Base for every error the local cloud reports to its user."""


class TemplateError(LocalCloudError):
    """template.yaml could not be loaded, translated or resolved."""


class PortInUse(LocalCloudError):
    """A port the local cloud needs is already bound by another process."""


class InvocationError(LocalCloudError):
    """A function invocation failed: the handler raised, timed out, or its worker died."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message
        self.trace = trace or []

    def payload(self) -> dict[str, object]:
        """The shape Lambda returns for an unhandled error."""
        return {"errorType": self.error_type, "errorMessage": self.message, "stackTrace": self.trace}
