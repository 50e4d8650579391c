"""The parts `core.service.VectorService` is assembled from, one concern per module."""
