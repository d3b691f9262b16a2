"""Model servers that speak the OpenAI HTTP API, measured as a workload (``openai-endpoint``):
:mod:`.client` (streaming SSE client), :mod:`.endpoint` (probe and ``--launch``),
:mod:`.workload` (the workload)."""
