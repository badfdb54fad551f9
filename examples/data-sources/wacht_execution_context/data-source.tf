variable "execution_context_id" {
  type        = string
  description = "ID of the execution context to read."
}

data "wacht_execution_context" "this" {
  id = var.execution_context_id
}

output "status" {
  value = data.wacht_execution_context.this.status
}

output "in_use" {
  value = contains(["running", "waiting_for_input"], data.wacht_execution_context.this.status)
}
