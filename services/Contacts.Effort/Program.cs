using Contacts.Effort;

var builder = WebApplication.CreateBuilder(args);
builder.AddEffort();

var app = builder.Build();
app.MapEffort();
app.Run();

public partial class Program;
