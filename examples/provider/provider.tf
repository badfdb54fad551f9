terraform {
  required_providers {
    wacht = {
      source = "wacht-platform/wacht"
    }
  }
}

# With no arguments the provider reads the API key from WACHT_API_KEY and the
# base URL from WACHT_API_URL (default https://api.wacht.dev), and keeps each
# kind of request within the API's documented rate limits.
provider "wacht" {}
