from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from clinic.decorators import staff_required


@login_required
@staff_required
def home(request):
    return render(request, "clinic/home.html")
