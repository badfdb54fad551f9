# What holds an execution context that cannot be deleted? Run
#   terraform plan -var context_id=7210948357125083136
# It only reads: the outputs show the context's status and the agent that
# owns it.

terraform {
  required_providers {
    wacht = {
      source = "wacht-platform/wacht"
    }
  }
}

provider "wacht" {}

variable "context_id" {
  type        = string
  description = "ID of the execution context to look at."
}

data "wacht_execution_context" "held" {
  id = var.context_id
}

# The owning agent, when the context has one.
data "wacht_agent" "owner" {
  count = data.wacht_execution_context.held.agent_id == null ? 0 : 1
  id    = data.wacht_execution_context.held.agent_id
}

output "context" {
  value = {
    status           = data.wacht_execution_context.held.status
    in_use           = contains(["running", "waiting_for_input"], data.wacht_execution_context.held.status)
    last_activity_at = data.wacht_execution_context.held.last_activity_at
    agent_id         = data.wacht_execution_context.held.agent_id
    agent_name       = one(data.wacht_agent.owner[*].name)
  }
}
