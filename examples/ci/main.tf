# A configuration as a CI job plans it: see README.md for the commands. The
# check block warns, without failing the plan, when the agent has piled up
# more completed execution contexts than max_completed_contexts.

terraform {
  # check blocks need Terraform 1.5 or later.
  required_version = ">= 1.5.0"

  required_providers {
    wacht = {
      source = "wacht-platform/wacht"
    }
  }
}

# Reads WACHT_API_KEY and WACHT_API_URL from the environment. A plan only
# reads, so CI can plan with a read-only key. The refresh reads the contexts
# from list pages, 100 a request, paced to the documented read limit (100
# requests a minute, burst 20).
provider "wacht" {}

variable "agent_id" {
  type        = string
  description = "ID of the agent that owns the execution contexts."
}

variable "max_completed_contexts" {
  type        = number
  default     = 100
  description = "How many completed execution contexts the agent may hold before the plan warns."
}

resource "wacht_execution_context" "triage" {
  title               = "Ticket triage"
  system_instructions = "Sort incoming tickets by product and urgency."
  context_group       = "support"
  agent_id            = var.agent_id

  # A pull request that deletes or replaces this context fails its plan,
  # instead of being merged and deleting a context a run may still need.
  deletion_protection = true
}

resource "wacht_execution_context" "escalations" {
  title         = "Escalations"
  context_group = "support"
  agent_id      = var.agent_id

  # On destroy, cancel a run that still holds the context.
  cancel_on_destroy = true
}

# The completed contexts of the agent, for the check below. It is a top-level
# data source on purpose: Terraform plans a data source nested in a check
# block to be read again during apply, so a plan with one never has "no
# changes", and plan -detailed-exitcode would always exit 2, even when the
# check passes.
data "wacht_execution_contexts" "completed" {
  agent_id = var.agent_id
  status   = "completed"
}

check "completed_contexts" {
  assert {
    condition = length(data.wacht_execution_contexts.completed.ids) <= var.max_completed_contexts
    error_message = format(
      "Agent %s holds %d completed execution contexts, more than %d. Remove old ones (see the bulk-removal guide).",
      var.agent_id, length(data.wacht_execution_contexts.completed.ids), var.max_completed_contexts,
    )
  }
}
