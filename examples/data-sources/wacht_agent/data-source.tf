# By exact name. Names are not unique: reading fails when no agent or more
# than one has the name, and says which agents come close or which ids share
# it.
data "wacht_agent" "support" {
  name = "support-bot"
}

# Or by id (here, the one found above).
data "wacht_agent" "same" {
  id = data.wacht_agent.support.id
}

# The agent's contexts, through its id.
data "wacht_execution_contexts" "support" {
  agent_id = data.wacht_agent.support.id
}

output "support_bot" {
  value = {
    id       = data.wacht_agent.support.id
    contexts = length(data.wacht_execution_contexts.support.ids)
  }
}
