import {
  to = wacht_execution_context.support
  id = "7210948357125083136"
}
