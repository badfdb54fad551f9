# Deletes the execution contexts of one agent that nothing has used for 30
# days, in one step and without any state (Terraform 1.14+):
#
#   terraform apply -invoke=action.wacht_execution_context_purge.stale -var agent_id=7210948357125083136
#
# Set dry_run = true first to see what it would delete.

variable "agent_id" {
  type        = string
  description = "ID of the agent whose execution contexts are deleted."
}

action "wacht_execution_context_purge" "stale" {
  config {
    agent_id     = var.agent_id
    inactive_for = "720h"
  }
}

# The same purge can run as part of an apply: here, each time the agent's
# support context is created anew.
resource "wacht_execution_context" "support" {
  title    = "Customer support"
  agent_id = var.agent_id

  lifecycle {
    action_trigger {
      events  = [after_create]
      actions = [action.wacht_execution_context_purge.stale]
    }
  }
}
