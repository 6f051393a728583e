//! warrant-client against anvil and Alto.
