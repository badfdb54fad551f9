# Provider settings for an account whose plan allows more than the documented
# rate limits, e.g. for bulk removals. Operations left out of rate_limits
# keep the documented limits.

terraform {
  required_providers {
    wacht = {
      source = "wacht-platform/wacht"
    }
  }
}

variable "wacht_api_key" {
  type        = string
  sensitive   = true
  default     = null
  description = "Wacht API key. Null falls back to WACHT_API_KEY."
}

provider "wacht" {
  api_key = var.wacht_api_key

  # Retries of one request after a server or network error, when repeating
  # the request is safe. 429 answers are waited out and do not count.
  max_retries     = 8
  request_timeout = "30s"

  rate_limits = {
    read   = { per_minute = 300, burst = 30 }
    delete = { per_minute = 120, burst = 10 }
  }
}
