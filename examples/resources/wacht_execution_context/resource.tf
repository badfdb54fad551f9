variable "agent_id" {
  type        = string
  description = "ID of the agent that owns the execution context."
}

resource "wacht_execution_context" "support" {
  title               = "Customer support: orders"
  system_instructions = "You answer questions about orders. Hand refunds over 100 EUR to a person."
  context_group       = "support"
  agent_id            = var.agent_id

  # On destroy, cancel a run that still holds the context instead of
  # waiting for it (the API marks the cancelled context failed).
  cancel_on_destroy = true

  timeouts {
    create = "2m"
    delete = "10m"
  }
}
