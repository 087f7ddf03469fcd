using Contacts.Alerting;

var builder = WebApplication.CreateBuilder(args);
builder.AddAlerting();

var app = builder.Build();
app.MapAlerting();
app.Run();

public partial class Program;
