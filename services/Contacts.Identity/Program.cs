using Contacts.Identity;

var builder = WebApplication.CreateBuilder(args);
builder.AddIdentity();

var app = builder.Build();
app.MapIdentity();
app.Run();

public partial class Program;
