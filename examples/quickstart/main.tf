# Quickstart configuration: one execution context for an agent of the local
# Wacht server. Run it with examples/quickstart/run.sh (make quickstart).

terraform {
  required_providers {
    wacht = {
      source = "wacht-platform/wacht"
    }
  }
}

# Reads WACHT_API_KEY and WACHT_API_URL from the environment.
provider "wacht" {}

variable "agent_id" {
  type        = string
  description = "ID of the agent the execution context belongs to."
}

resource "wacht_execution_context" "example" {
  title               = "Quickstart context"
  system_instructions = "You are a helpful support agent."
  context_group       = "quickstart"
  agent_id            = var.agent_id
}

output "execution_context" {
  description = "ID and status of the execution context."
  value = {
    id     = wacht_execution_context.example.id
    status = wacht_execution_context.example.status
  }
}
