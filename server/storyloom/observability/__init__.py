"""Operations: Prometheus metrics, OpenTelemetry traces, and the adapter that gives the domain's telemetry port
both. Built in app.py; the domain sees only `storyloom.domain.ports.telemetry.Telemetry`."""
