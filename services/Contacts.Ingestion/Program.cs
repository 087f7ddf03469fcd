using Contacts.Ingestion;

var builder = WebApplication.CreateBuilder(args);
builder.AddIngestion();

var app = builder.Build();
app.MapIngestion();
app.Run();

public partial class Program;
