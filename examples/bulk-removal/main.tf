# Bulk removal: deletes every execution context of one agent, or only those
# in one status. The data source lists them, the import block adopts each one
# into the state, and `terraform destroy` then deletes them all.
#
#   terraform apply   -var agent_id=7210948357125083136 [-var status=completed]
#   terraform destroy -var agent_id=7210948357125083136 [-var status=completed]
#
# Needs Terraform 1.7+ or OpenTofu 1.7+: older CLIs do not accept for_each in
# an import block. README.md (and the bulk-removal guide) show what to do
# with them instead.

terraform {
  required_providers {
    wacht = {
      source = "wacht-platform/wacht"
    }
  }
}

# Reads WACHT_API_KEY and WACHT_API_URL from the environment.
provider "wacht" {
  rate_limits = var.rate_limits
}

variable "agent_id" {
  type        = string
  description = "ID of the agent whose execution contexts are removed."
}

variable "status" {
  type        = string
  default     = null
  description = "Remove only the contexts in this status, e.g. \"completed\". Null removes them all."
}

variable "rate_limits" {
  type = object({
    read   = optional(object({ per_minute = number, burst = number }))
    delete = optional(object({ per_minute = number, burst = number }))
  })
  default     = null
  description = "Client-side rate limits, if your plan allows more than the documented ones (null keeps those: 50 deletes a minute)."
}

data "wacht_execution_contexts" "scope" {
  agent_id = var.agent_id
  status   = var.status
}

# Adopts the contexts as they are: the bare resource block below sets no
# argument, so each keeps the server's values and the apply changes nothing.
import {
  for_each = toset(data.wacht_execution_contexts.scope.ids)
  to       = wacht_execution_context.bulk[each.key]
  id       = each.key
}

resource "wacht_execution_context" "bulk" {
  for_each = toset(data.wacht_execution_contexts.scope.ids)
}

output "ids" {
  description = "IDs of the execution contexts in scope, oldest first."
  value       = data.wacht_execution_contexts.scope.ids
}
