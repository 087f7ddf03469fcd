using Contacts.IntegrationTests.Infrastructure;

[assembly: RecordServers]
