# Lists the finished execution contexts of one agent (Terraform 1.14+):
#
#   terraform query -var agent_id=7210948357125083136
#
# Add -generate-config-out=contexts.tf to write an import block and a
# resource block for each, to adopt them into the state.

variable "agent_id" {
  type        = string
  description = "ID of the agent whose execution contexts are listed."
}

list "wacht_execution_context" "completed" {
  provider         = wacht
  include_resource = true

  config {
    agent_id = var.agent_id
    status   = "completed"
  }
}
