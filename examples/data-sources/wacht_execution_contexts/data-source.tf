variable "agent_id" {
  type        = string
  description = "ID of the agent whose execution contexts to list."
}

# Every context of the agent, oldest first.
data "wacht_execution_contexts" "all" {
  agent_id = var.agent_id
}

# Only the completed contexts of the "support" group whose titles start with
# "Ticket" (title_prefix is applied after listing).
data "wacht_execution_contexts" "finished_tickets" {
  agent_id      = var.agent_id
  status        = "completed"
  context_group = "support"
  title_prefix  = "Ticket"
}

output "context_count" {
  value = length(data.wacht_execution_contexts.all.ids)
}

output "finished_ticket_titles" {
  value = [for c in data.wacht_execution_contexts.finished_tickets.contexts : c.title]
}
