using Contacts.Gateway.ApiKeys;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

// tools/keys create --tenant TENANT [--name NAME] | list [--tenant TENANT] | revoke --id ID: the gateway's API keys for
// operators with database access (ConnectionStrings__postgres), kept as the gateway keeps them (hashed), without running
// the gateway. The admin API (POST /admin/tenants/{tenant}/keys) does the same over HTTP.
var builder = WebApplication.CreateBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.AddApiKeyStore();
await using var app = builder.Build();
return await ApiKeyAdmin.RunCommand(args, app.Services);
