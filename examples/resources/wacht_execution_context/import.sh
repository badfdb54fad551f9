# An execution context is imported by its id, a decimal integer.
terraform import wacht_execution_context.support 7210948357125083136
