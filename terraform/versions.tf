terraform {
  # Variable validations, optional object attributes and preconditions need 1.6; the tests in
  # tests/ use mock providers, which need `terraform test` from 1.7 on.
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40, < 6.0"
    }
  }
}
