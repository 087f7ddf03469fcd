namespace Contacts.Messaging;

/// <summary>A message that can never succeed (bad content); it skips the retries and goes straight to the error queue.</summary>
public sealed class InvalidMessageException(string message) : Exception(message);
