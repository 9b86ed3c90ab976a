from qualibench.launch import main

if __name__ == "__main__":  # not when multiprocessing re-imports the main module in a worker
    main()
